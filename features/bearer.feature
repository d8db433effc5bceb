Feature: Bearer access to protected endpoints
  Protected endpoints take the access token as "Authorization: Bearer <token>"
  and answer 401 with the guide's error body to anything else
  ("Your First API Call", step 2 and error handling; RFC 8725, RFC 6750).

  @must @AUTH-15 @ERR-0
  Scenario Outline: A request without a valid access token is unauthorized
    Given the admin user is logged in
    When they list accounts with <credentials>
    Then the response is a "Unauthorized" error with status 401

    Examples:
      | credentials                                              |
      | no Authorization header                                  |
      | the Authorization header "Bearer"                        |
      | the Authorization header "Basic dXNlcjpwYXNzd29yZA=="     |
      | the Authorization header "Bearer not-a-jwt"              |
      | their access token with a tampered payload               |
      | their access token with a forged signature               |
      | their access token with its signature removed            |
      | their access token re-signed with alg none               |
      | their access token re-signed with HS256 and the public key |
      | their access token re-signed with another RSA key         |

  @must @AUTH-15
  Scenario: A valid access token is accepted
    Given the admin user is logged in
    When they list accounts
    Then the response status is 200

  @must @AUTH-15
  Scenario: An expired access token is unauthorized
    Given the admin user is logged in
    And their access token has expired
    When they list accounts
    Then the response is a "Unauthorized" error with status 401

  @should @AUTH-16
  Scenario Outline: An unauthorized answer tells the client to use a bearer token
    Given the admin user is logged in
    When they list accounts with <credentials>
    Then the response status is 401
    And the response header "WWW-Authenticate" starts with "Bearer"

    Examples:
      | credentials                                |
      | no Authorization header                    |
      | their access token with a tampered payload |

  @should @AUTH-17
  Scenario: The signing keys are published and verify the access token
    Given the admin user is logged in
    When someone fetches "/.well-known/jwks.json"
    Then the response status is 200
    And the response body is a JSON Web Key Set with only public RSA keys
    And their access token names a kid from that set and verifies with its key
